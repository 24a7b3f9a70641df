package server

// The status page's live view of the cluster (issue 16): the nodes as
// boxes by role, coloured by gossip state, and the sequence diagram of the
// most recent slot (or one typed in), drawn in SVG from GET /trace/cluster.
// Plain HTML and JavaScript, no external assets: the page works offline.

// statusViewCSS styles the boxes and the diagram.
const statusViewCSS = `
.roles{display:flex;flex-wrap:wrap;gap:.4em;align-items:stretch}
.box{border:1px solid #bbb;border-left:6px solid #888;border-radius:4px;padding:.25em .45em;width:7.3em;background:#fff;color:#222;font-size:.85em;line-height:1.35}
.box.proposer{border-left-color:#1565c0}.box.acceptor{border-left-color:#6a1b9a}.box.learner{border-left-color:#00838f}.box.client{border-left-color:#8d6e63}
.box.alive{background:#e8f5e9;color:#222}.box.suspect{background:#fff3e0;color:#222}.box.dead,.box.left{background:#ffebee;color:#999}
.box.leader{box-shadow:0 0 0 2px #f9a825}
.box .st{float:right;font-size:.85em;color:#777}
#seq{background:#fff;border:1px solid #ddd}
#seq text{font:11px system-ui,sans-serif}
#seq .lane{stroke:#ccc}
#seq .msg{stroke-width:1.3;fill:none}
#seq .MsgAccept{stroke:#1565c0}#seq .MsgAccepted{stroke:#2e7d32}#seq .MsgLearn{stroke:#6a1b9a}#seq .MsgChosen{stroke:#00838f}
#seq .MsgPrepare{stroke:#e65100}#seq .MsgPromise{stroke:#ad1457}#seq .other{stroke:#999}
#seq .lost{stroke:#b00020;stroke-dasharray:3 2}
#seq .quorum{fill:#d50000}
#seq .persist{fill:#555}
`

// statusViewHTML is the part of the page the script below fills.
const statusViewHTML = `
<h2>Cluster <span class="muted">(★ leader; box colour: gossip state; stripe: role)</span></h2>
<div class="roles" id="boxes"></div>
<h2>Sequence diagram <span class="muted" id="seqtitle"></span></h2>
<form id="seqform" onsubmit="event.preventDefault();drawTrace()">slot <input id="slot" size="8" placeholder="latest">
<label><input type="checkbox" id="election"> last election</label> <button>show</button></form>
<p class="muted" id="seqinfo"></p>
<svg id="seq" width="980" height="60" xmlns="http://www.w3.org/2000/svg"></svg>
`

// statusViewJS draws the boxes (from /status.json) and the diagram.
const statusViewJS = `
// ?slot=N or ?election=1 in the page's address picks the diagram.
(()=>{const q=new URLSearchParams(location.search);
  if(q.get("slot"))document.getElementById("slot").value=q.get("slot");
  if(q.get("election"))document.getElementById("election").checked=true})();
const ROLES=["proposer","acceptor","learner","client"];
function drawBoxes(s){
  const n=s.node, nodes=(s.nodes||[]).slice().sort((a,b)=>a.id-b.id);
  const chosenOf=x=>x.id==n.id&&n.chosen_slot!=null?n.chosen_slot:(x.metadata&&x.metadata.chosen!=null&&(x.role=="proposer"||x.role=="learner")?x.metadata.chosen:null);
  const lead=nodes.find(x=>x.id==s.leader_id);
  let top=lead?chosenOf(lead):null;
  for(const x of nodes){const c=chosenOf(x);if(c!=null&&(top==null||c>top))top=c}
  document.getElementById("boxes").innerHTML=ROLES.map(role=>nodes.filter(x=>x.role==role).map(x=>{
      const c=chosenOf(x), lag=c!=null&&top!=null?top-c:null, leader=x.id==s.leader_id;
      const ballot=x.id==n.id&&s.ballot!=null?s.ballot:x.metadata&&x.metadata.ballot;
      return "<div class='box "+esc(x.role)+" "+esc(x.state)+(leader?" leader":"")+"' id='box-"+esc(x.id)+"' title='"+esc(x.role)+"'><b>"+esc(x.name)+(leader?" ★":"")+"</b> <span class=st>"+esc(x.state)+"</span><br>"+
        (ballot!=null?"ballot <b>"+esc(ballot)+"</b><br>":"")+(c!=null?"chosen <b class=chosen>"+esc(c)+"</b> · lag <b>"+esc(lag)+"</b>":"")+sparkHTML(x.id)+"</div>"}).join("")).join("");
}
function svgEl(tag,attrs,text){
  const e=document.createElementNS("http://www.w3.org/2000/svg",tag);
  for(const k in attrs)e.setAttribute(k,attrs[k]);
  if(text!=null)e.textContent=text;
  return e;
}
function ms(ns){return (ns/1e6).toFixed(3)+" ms"}
function short(t){return String(t||"").replace(/^Msg/,"")}
function slots(e){if(e.slot==null)return "";if(e.slot_end==null)return "["+e.slot+"-]";return e.slot==e.slot_end?"["+e.slot+"]":"["+e.slot+"-"+e.slot_end+"]"}
async function drawTrace(){
  const slot=document.getElementById("slot").value.trim(), election=document.getElementById("election").checked;
  const info=document.getElementById("seqinfo"), svg=document.getElementById("seq");
  let m;
  try{
    const r=await fetch("/trace/cluster"+(election?"?election=true":slot?"?slot="+encodeURIComponent(slot):""),{cache:"no-store"});
    m=await r.json();
    if(!r.ok){info.textContent=m.error||("status "+r.status);return}
  }catch(e){info.textContent="cannot get the trace: "+e;return}
  document.getElementById("seqtitle").textContent=m.slot!=null?"slot "+m.slot:m.ballot?"election at ballot "+m.ballot:"";
  const names={};for(const n of m.nodes)names[n.id]=n.name;
  const cols=m.nodes, col={};cols.forEach((n,i)=>col[n.id]=i);
  const W=88,L=78,top=34,H=17,X=i=>L+i*W+W/2;
  // Rows: one per event; the sends of one node at one instant share one.
  const row=new Array(m.events.length);let r=-1,prev=null;
  m.events.forEach((e,i)=>{
    if(e.kind=="persist-start"){row[i]=Math.max(r,0);return}
    if(!(e.kind=="send"&&prev&&prev.kind=="send"&&prev.node==e.node&&prev.t_ns==e.t_ns))r++;
    row[i]=r;prev=e;
  });
  const rows=r+1, height=top+rows*H+20;
  svg.setAttribute("height",height);svg.setAttribute("width",L+cols.length*W+10);
  while(svg.firstChild)svg.removeChild(svg.firstChild);
  const defs=svgEl("defs",{});
  const mk=svgEl("marker",{id:"head",viewBox:"0 0 10 10",refX:"10",refY:"5",markerWidth:"7",markerHeight:"7",orient:"auto-start-reverse"});
  mk.appendChild(svgEl("path",{d:"M0,0 L10,5 L0,10 z",fill:"#444"}));defs.appendChild(mk);svg.appendChild(defs);
  cols.forEach((n,i)=>{
    svg.appendChild(svgEl("text",{x:X(i),y:14,"text-anchor":"middle","font-weight":"600",fill:n.error?"#aaa":"#222"},n.name));
    svg.appendChild(svgEl("text",{x:X(i),y:26,"text-anchor":"middle",fill:"#888"},n.id==m.reference?"clock ref":n.error?"no answer":n.uncertainty_ns<0?"± ?":"±"+Math.round(n.uncertainty_ns/1000)+"µs"));
    svg.appendChild(svgEl("line",{class:"lane",x1:X(i),y1:top-4,x2:X(i),y2:height-6}));
  });
  const Y=i=>top+row[i]*H+H/2;
  let lastRow=-1;
  m.events.forEach((e,i)=>{
    if(row[i]!=lastRow&&e.kind!="persist-start"){svg.appendChild(svgEl("text",{x:4,y:Y(i)+4,fill:"#666"},ms(e.at_ns)));lastRow=row[i]}
    const x=X(col[e.node]), y=Y(i);
    const typ=["MsgAccept","MsgAccepted","MsgLearn","MsgChosen","MsgPrepare","MsgPromise"].includes(e.type)?e.type:"other";
    if(e.kind=="recv"&&e.peer>=0&&col[e.from]!=null){
      const x0=X(col[e.from]), y0=Y(e.peer);
      const l=svgEl("line",{class:"msg "+typ,"data-type":e.type,x1:x0,y1:y0,x2:x,y2:y,"marker-end":"url(#head)"});
      l.appendChild(svgEl("title",{},short(e.type)+" b"+e.ballot+" "+slots(e)+" "+names[e.from]+" → "+names[e.node]+", flight "+ms(e.at_ns-m.events[e.peer].at_ns)));
      svg.appendChild(l);
      svg.appendChild(svgEl("text",{x:x+(x0<x?-4:4),y:y-3,"text-anchor":x0<x?"end":"start",fill:"#333"},short(e.type)));
      if(e.quorum){
        svg.appendChild(svgEl("polygon",{class:"quorum",points:(x)+","+(y-6)+" "+(x+6)+","+y+" "+x+","+(y+6)+" "+(x-6)+","+y}));
        svg.appendChild(svgEl("text",{class:"quorum",x:x+8,y:y+4},"quorum "+m.quorum));
      }
    }else if(e.kind=="recv"){
      svg.appendChild(svgEl("line",{class:"msg "+typ,"data-type":e.type,x1:x-30,y1:y,x2:x,y2:y,"marker-end":"url(#head)"}));
    }else if(e.kind=="send"&&e.peer<0){
      const x1=col[e.to]!=null?X(col[e.to]):x+30;
      svg.appendChild(svgEl("line",{class:"msg lost "+typ,"data-type":e.type,x1:x,y1:y,x2:x1,y2:y+H*0.6}));
      svg.appendChild(svgEl("text",{x:x1,y:y+H*0.6+4,fill:"#b00020","text-anchor":"middle"},"✕"));
    }else if(e.kind=="persist-end"){
      const rect=svgEl("rect",{class:"persist",x:x-4,y:y-6,width:8,height:12});
      rect.appendChild(svgEl("title",{},(e.log?"append to the log":"persist")+" "+slots(e)+(e.duration_ns?" "+ms(e.duration_ns):"")));
      svg.appendChild(rect);
      svg.appendChild(svgEl("text",{x:x+7,y:y+4,fill:"#555"},(e.log?"log ":"fsync ")+(e.duration_ns?ms(e.duration_ns):"")));
    }else if(e.kind=="chosen"||e.kind=="learned"||e.kind=="ack"){
      const sym={chosen:"★ chosen",learned:"✓ learned",ack:"↩ ack"}[e.kind];
      svg.appendChild(svgEl("text",{class:e.kind,x:x-5,y:y+4,fill:e.kind=="chosen"?"#e65100":"#2e7d32"},sym));
    }
  });
  const missing=m.nodes.filter(n=>n.error).map(n=>n.name);
  info.textContent=m.events.length+" events from "+m.nodes.filter(n=>n.events).length+" nodes; times on "+(names[m.reference]||"?")+"'s clock, others aligned on send/receive pairs (± their uncertainty)"+(missing.length?"; no answer from "+missing.join(", "):"");
}
drawTrace();setInterval(()=>{if(!document.getElementById("slot").value.trim()||document.getElementById("election").checked)drawTrace()},2000);
`
