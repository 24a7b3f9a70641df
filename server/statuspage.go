package server

import (
	"context"
	"net/http"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/gossip"
)

// statusJSON is what the status page shows: this node, the cluster as
// gossip sees it, and the last chosen slots.
func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) {
	view := s.view()
	var body struct {
		Node     any             `json:"node"`
		Health   string          `json:"health"`
		LeaderID *uint64         `json:"leader_id"`
		Nodes    []gossip.Member `json:"nodes"`
		Ballot   *uint64         `json:"ballot,omitempty"`
		// Recent are a learner's recent_learned_values, this node's or
		// one it asked.
		Recent []api.RecentEntry `json:"recent,omitzero"`
	}
	body.Node, body.Health, body.Nodes = view, "healthy", []gossip.Member{}
	if err := s.healthErr(); err != nil {
		body.Health = "unhealthy: " + err.Error()
	}
	if s.gossip != nil {
		body.Nodes = s.gossip.Nodes()
		body.LeaderID = api.OptionalID(uint64(s.gossip.LeaderID()))
	}
	if p, ok := s.role.(*proposerRole); ok {
		st := p.status()
		ballot := uint64(st.Ballot)
		body.LeaderID, body.Ballot = api.OptionalID(uint64(st.Leader)), &ballot
	}
	if lv, ok := view.(*api.LearnerView); ok {
		body.Recent = lv.RecentLearnedValues
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), 500*time.Millisecond)
		defer cancel()
		for _, l := range s.cfg.Learners {
			addr, ok := s.addressOf(l.ID)
			if !ok {
				continue
			}
			var lv api.LearnerView
			if s.getJSON(ctx, addr, "/view-logs", &lv) == nil {
				body.Recent = lv.RecentLearnedValues
				break
			}
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// statusPage is the monitor port's home page: self-contained HTML (no
// external assets) that polls /status.json every second.
const statusPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>paxos node</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .2em} h2{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;background:#fff} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f0f0f0} .alive{color:#087f23} .dead,.left{color:#b00020} .suspect{color:#b36b00}
.kv span{display:inline-block;margin-right:1.5em} .muted{color:#777} code{font-size:.95em}
` + statusViewCSS + statusChartsCSS + `</style></head><body>
<h1 id="title">paxos node</h1>
<div class="kv" id="summary"></div>
` + statusChartsHTML + statusViewHTML + `<h2>Cluster (gossip)</h2>
<table id="nodes"><thead><tr><th>ID</th><th>Name</th><th>Role</th><th>Address</th><th>State</th><th>Leader</th><th>Ballot</th><th>Chosen</th></tr></thead><tbody></tbody></table>
<h2>Last chosen slots</h2>
<table id="recent"><thead><tr><th>Slot</th><th>Value</th><th>Request ID</th></tr></thead><tbody></tbody></table>
<p class="muted">Leader, ballot and chosen slot of the other nodes are what they last gossiped.<br>Refreshes every second. <a href="/metrics">/metrics</a> · <a href="/debug/pprof/">/debug/pprof/</a> · <a href="/status.json">/status.json</a></p>
<script>
function esc(v){return String(v==null?"—":v).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]))}
function rows(id,list,cells){document.querySelector("#"+id+" tbody").innerHTML=(list||[]).map(x=>"<tr>"+cells(x).join("")+"</tr>").join("")}
async function refresh(){
  try{
    const s=await (await fetch("/status.json",{cache:"no-store"})).json();
    const n=s.node;
    document.getElementById("title").textContent=n.name+" ("+n.role+", id "+n.id+")";
    document.getElementById("summary").innerHTML=
      "<span>health: <b id=health>"+esc(s.health)+"</b></span>"+
      "<span>leader: <b id=leader>"+esc(s.leader_id)+"</b></span>"+
      (s.ballot!=null?"<span>ballot: <b id=ballot>"+esc(s.ballot)+"</b></span>":"")+
      (n.state?"<span>state: <b>"+esc(n.state)+"</b></span>":"")+
      (n.chosen_slot!=null?"<span>chosen slot: <b id=chosen>"+esc(n.chosen_slot)+"</b></span>":"");
    drawBoxes(s);
    rows("nodes",s.nodes,x=>["<td>"+esc(x.id)+"</td>","<td>"+esc(x.name)+"</td>","<td>"+esc(x.role)+"</td>",
      "<td><code>"+esc(x.address)+":"+esc(x.port)+"</code></td>","<td class='"+esc(x.state)+"'>"+esc(x.state)+"</td>",
      "<td>"+esc(x.metadata&&x.metadata.leader)+"</td>","<td>"+esc(x.metadata&&x.metadata.ballot)+"</td>",
      "<td>"+esc(x.id==n.id&&n.chosen_slot!=null?n.chosen_slot:x.role=="acceptor"||x.role=="client"?null:x.metadata&&x.metadata.chosen)+"</td>"]);
    rows("recent",(s.recent||[]).slice().reverse(),x=>["<td>"+esc(x.slot)+"</td>","<td>"+(x.noop?"<i class=muted>no-op</i>":esc(x.value))+"</td>","<td><code>"+esc(x.request_id)+"</code></td>"]);
  }catch(e){document.getElementById("summary").textContent="cannot reach the node: "+e}
}
refresh();setInterval(refresh,1000);
` + statusViewJS + statusChartsJS + `</script></body></html>`

func (s *Server) handleStatusPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		writeError(w, ErrNotFound, nil)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(statusPage))
}
