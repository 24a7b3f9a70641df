package server

// The status page's charts (issue 16): the node's own work over the last
// minutes, from GET /stats/history (history.go): operations per second (a
// proposer's writes, an acceptor's or learner's durable slots) and the p50
// and p99 of its latency (commit latency; fsync), one point per second;
// and in every node's box the last minute of that node's work, from GET
// /stats/cluster. Inline SVG drawn by plain JavaScript: no library, no
// external asset.

// statusChartsCSS styles the charts.
const statusChartsCSS = `
.charts{display:flex;flex-wrap:wrap;gap:1em}
.charts figure{margin:0;background:#fff;border:1px solid #ddd;padding:.3em .5em}
.charts figcaption{font-size:.9em}
.chart text{font:10px system-ui,sans-serif;fill:#777}
.chart .grid{stroke:#eee}
.chart path{fill:none;stroke-width:1.5;stroke-linecap:round;stroke-linejoin:round}
.chart .rate{stroke:#1565c0}.chart .p50{stroke:#2e7d32}.chart .p99{stroke:#d50000}
.chart circle.p50{fill:#2e7d32;stroke:none}.chart circle.p99{fill:#d50000;stroke:none}
.key50{color:#2e7d32}.key99{color:#d50000}
.box .spark{display:block;margin-top:.15em;background:#fff}
.box .sp{font-size:.8em;color:#555}
`

// statusChartsHTML is the part of the page drawCharts fills.
const statusChartsHTML = `
<h2>Last minutes <span class="muted" id="chartnote"></span></h2>
<div class="charts" id="charts">
<figure><figcaption><span id="rate-title">operations</span>/s: last <b id="rate-now">—</b>, peak <b id="rate-peak">—</b></figcaption>
<svg class="chart" id="chart-rate" width="440" height="110" xmlns="http://www.w3.org/2000/svg"></svg></figure>
<figure><figcaption><span id="lat-title">latency</span>: <span class="key50">p50 <b id="p50-now">—</b></span>, <span class="key99">p99 <b id="p99-now">—</b></span> <span class="muted" id="lat-age"></span></figcaption>
<svg class="chart" id="chart-lat" width="440" height="110" xmlns="http://www.w3.org/2000/svg"></svg></figure>
</div>
`

// statusChartsJS draws the charts every second.
const statusChartsJS = `
function num(v){return v==null?"—":v==0?"0":v>=100?v.toFixed(0):v>=10?v.toFixed(1):v>=1?v.toFixed(2):v.toFixed(3)}
function niceTop(v){if(!(v>0))return 1;const p=Math.pow(10,Math.floor(Math.log10(v)));for(const m of [1,2,5,10])if(m*p>=v)return m*p;return 10*p}
// chart draws series (arrays of numbers or null, oldest first, the last
// one now) on svg, right-aligned on cap points; null leaves a gap.
function chart(svg,series,cap,unit,interval){
  const W=+svg.getAttribute("width"),H=+svg.getAttribute("height"),L=54,R=8,T=8,B=16;
  let top=0;for(const s of series)for(const v of s.vals)if(v!=null&&v>top)top=v;
  const ymax=niceTop(top), x=i=>L+(W-L-R)*i/Math.max(cap-1,1), y=v=>T+(H-T-B)*(1-v/ymax);
  while(svg.firstChild)svg.removeChild(svg.firstChild);
  for(const f of [0,0.5,1]){
    svg.appendChild(svgEl("line",{class:"grid",x1:L,x2:W-R,y1:y(ymax*f),y2:y(ymax*f)}));
    svg.appendChild(svgEl("text",{x:L-4,y:y(ymax*f)+3,"text-anchor":"end"},num(ymax*f)+unit));
  }
  svg.appendChild(svgEl("text",{x:L,y:H-3},"-"+Math.round(cap*interval/60000)+" min"));
  svg.appendChild(svgEl("text",{x:W-R,y:H-3,"text-anchor":"end"},"now"));
  for(const s of series){
    const off=cap-s.vals.length;let d="",pen=false,points=0;
    s.vals.forEach((v,i)=>{
      if(v==null){pen=false;return}
      const px=x(off+i).toFixed(1),py=y(v).toFixed(1);
      d+=pen?"L"+px+","+py:"M"+px+","+py+"h0.01";pen=true;points++;
    });
    svg.appendChild(svgEl("path",{class:s.cls,d:d,"data-points":points}));
    // A point with no neighbour is a dot the line cannot show.
    s.vals.forEach((v,i)=>{
      if(v!=null&&s.vals[i-1]==null&&s.vals[i+1]==null)svg.appendChild(svgEl("circle",{class:s.cls,cx:x(off+i),cy:y(v),r:2.5}));
    });
  }
}
async function drawCharts(){
  let h;
  try{h=await (await fetch("/stats/history",{cache:"no-store"})).json()}catch(e){document.getElementById("chartnote").textContent="cannot get /stats/history: "+e;return}
  if(!h.ops){document.getElementById("charts").style.display="none";document.getElementById("chartnote").textContent="(a "+h.node.role+" node measures nothing to chart)";return}
  const ss=h.samples||[];
  document.getElementById("rate-title").textContent=h.ops;
  document.getElementById("lat-title").textContent=h.latency;
  document.getElementById("chartnote").textContent="(this node's "+h.ops+" and "+h.latency+", one point a second; percentiles of each second's measurements)";
  const rates=ss.map(s=>s.rate);
  chart(document.getElementById("chart-rate"),[{cls:"rate",vals:rates}],h.capacity,"",h.interval_ms);
  chart(document.getElementById("chart-lat"),[{cls:"p99",vals:ss.map(s=>s.n?s.p99_ms:null)},{cls:"p50",vals:ss.map(s=>s.n?s.p50_ms:null)}],h.capacity," ms",h.interval_ms);
  document.getElementById("rate-now").textContent=ss.length?num(ss[ss.length-1].rate):"—";
  document.getElementById("rate-peak").textContent=ss.length?num(Math.max(...rates)):"—";
  let k=ss.length-1;while(k>=0&&!ss[k].n)k--;
  document.getElementById("p50-now").textContent=k<0?"—":num(ss[k].p50_ms)+" ms";
  document.getElementById("p99-now").textContent=k<0?"—":num(ss[k].p99_ms)+" ms";
  const ago=Math.round((ss.length-k)*h.interval_ms/1000);
  document.getElementById("lat-age").textContent=k<0?"(nothing measured yet)":"(the "+(k==ss.length-1?"last second":"second "+ago+" s ago")+")";
}
drawCharts();setInterval(drawCharts,1000);
// sparks are the last minute of every node (GET /stats/cluster), by ID;
// drawBoxes puts sparkHTML in each box.
let sparks={};
async function fetchSparks(){
  try{const c=await (await fetch("/stats/cluster",{cache:"no-store"})).json();const m={};for(const h of c.nodes||[])m[h.node.id]=h;sparks=m}catch(e){}
}
function sparkHTML(id){
  const h=sparks[id];
  if(!h)return "";
  if(h.error)return "<div class=sp title='"+esc(h.error)+"'>no history</div>";
  if(!h.ops)return "";
  const ss=h.samples||[],W=84,H=18,cap=60,off=cap-ss.length;
  let top=0;for(const s of ss)top=Math.max(top,s.rate);
  let d="",pts=0;
  ss.forEach((s,i)=>{d+=(pts?"L":"M")+(W*(off+i)/(cap-1)).toFixed(1)+","+(H-1-(H-2)*s.rate/(top||1)).toFixed(1);pts++});
  let k=ss.length-1;while(k>=0&&!ss[k].n)k--;
  return "<svg class='chart spark' id='spark-"+id+"' width="+W+" height="+H+"><path class=rate d='"+d+"' data-points='"+pts+"'></path></svg>"+
    "<div class=sp title='"+esc(h.ops+" per second over the last minute; p99 of "+h.latency+" in the last second that measured one")+"'>peak <b id='spark-peak-"+id+"'>"+num(top)+"</b>/s"+(k>=0?" · p99 <b>"+num(ss[k].p99_ms)+"</b>ms":"")+"</div>";
}
fetchSparks();setInterval(fetchSparks,2000);
`
