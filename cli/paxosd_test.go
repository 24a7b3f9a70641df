package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/replog"
	"github.com/paxos-go/paxos/server"
	"github.com/paxos-go/paxos/storage"
)

// clearPaxosdEnv unsets every environment variable paxosd reads, so the
// tests do not depend on the caller's environment (PORT is often set).
func clearPaxosdEnv(t *testing.T) {
	t.Helper()
	for _, f := range paxosdFlags() {
		ef, ok := f.(interface{ GetEnvVars() []string })
		if !ok {
			continue
		}
		for _, e := range ef.GetEnvVars() {
			t.Setenv(e, "") // restores the old value when the test ends
			os.Unsetenv(e)
		}
	}
}

// buildConfig runs paxosdConfig as the paxosd app would, with env set and
// args on the command line, without starting a server.
func buildConfig(t *testing.T, env map[string]string, args ...string) (server.Config, error) {
	t.Helper()
	clearPaxosdEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	var (
		cfg    server.Config
		cfgErr error
	)
	app := PaxosdApp()
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	app.Action = func(c *cli.Context) error {
		cfg, cfgErr = paxosdConfig(c)
		return nil
	}
	if err := app.Run(append([]string{"paxosd"}, args...)); err != nil {
		return cfg, err
	}
	return cfg, cfgErr
}

func TestPaxosdConfig(t *testing.T) {
	secretFile, emptyFile := filepath.Join(t.TempDir(), "secret"), filepath.Join(t.TempDir(), "empty")
	if err := errors.Join(os.WriteFile(secretFile, []byte("s3cret\n"), 0o600), os.WriteFile(emptyFile, []byte(" \n"), 0o600)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // substring; empty: no error
		check   func(t *testing.T, c server.Config)
	}{
		{
			name: "only --id takes the standard topology",
			args: []string{"--id", "4"},
			check: func(t *testing.T, c server.Config) {
				if c.ID != 4 || c.Name != "acceptor1" || c.Role != server.RoleAcceptor {
					t.Errorf("identity %d %s %s", c.ID, c.Name, c.Role)
				}
				if c.Listen != ":4001" || c.MonitorListen != ":8004" || c.Advertise != "127.0.0.1" ||
					c.GossipBind != "0.0.0.0" || c.GossipPort != 7004 || c.DataDir != "volumes/acceptor1" {
					t.Errorf("addresses: listen %s monitor %s advertise %s gossip %s:%d data %s",
						c.Listen, c.MonitorListen, c.Advertise, c.GossipBind, c.GossipPort, c.DataDir)
				}
				if got, want := server.FormatPeers(c.Acceptors), "4@127.0.0.1:4001,5@127.0.0.1:4002,6@127.0.0.1:4003"; got != want {
					t.Errorf("acceptors %s, want %s", got, want)
				}
				if c.Tick != 50*time.Millisecond || c.RequestTimeout != 5*time.Second || c.MaxValueBytes != 1<<20 {
					t.Errorf("tuning defaults: tick %v timeout %v max %d", c.Tick, c.RequestTimeout, c.MaxValueBytes)
				}
				if d := server.DefaultConfig(); c.Tick != d.Tick || c.RequestTimeout != d.RequestTimeout || c.MaxValueBytes != d.MaxValueBytes ||
					c.MaxLearnerLag != d.MaxLearnerLag || c.QuotaBytes != d.QuotaBytes || c.MinFreeBytes != d.MinFreeBytes || c.ClusterID != d.ClusterID {
					t.Errorf("tuning defaults differ from server.DefaultConfig: %+v", c)
				}
				if c.Secret != "" || c.ClientToken != "" || c.NoSync || c.NoTrace || len(c.Join) != 0 {
					t.Errorf("unexpected security/join defaults: %+v", c)
				}
			},
		},
		{
			name: "cluster ID: default, CLUSTER_ID, --cluster-id wins",
			env:  map[string]string{"CLUSTER_ID": "staging"},
			args: []string{"--id", "4", "--cluster-id", "prod"},
			check: func(t *testing.T, c server.Config) {
				if c.ClusterID != "prod" {
					t.Errorf("cluster ID %q, want prod", c.ClusterID)
				}
			},
		},
		{name: "dedup window and compaction step: defaults, DEDUP_WINDOW, --compact-every", env: map[string]string{"DEDUP_WINDOW": "5000"},
			args: []string{"--id", "4", "--compact-every", "64", "--learner-silence-ticks", "100"},
			check: func(t *testing.T, c server.Config) {
				if c.Core.LearnerSilenceTicks != 100 {
					t.Errorf("learner silence %d ticks, want 100", c.Core.LearnerSilenceTicks)
				}
				if c.Core.DedupWindow != 5000 || c.Core.CompactEvery != 64 {
					t.Errorf("dedup window %d, compact every %d; want 5000, 64", c.Core.DedupWindow, c.Core.CompactEvery)
				}
			}},
		{name: "dedup window default", args: []string{"--id", "1"},
			check: func(t *testing.T, c server.Config) {
				if d := replog.DefaultConfig(); c.Core.DedupWindow != d.DedupWindow || c.Core.CompactEvery != d.CompactEvery ||
					c.Core.LearnerSilenceTicks != d.LearnerSilenceTicks {
					t.Errorf("dedup window %d, compact every %d; want the replog defaults", c.Core.DedupWindow, c.Core.CompactEvery)
				}
			}},
		{name: "--dedup-window 0 is refused", args: []string{"--id", "1", "--dedup-window", "0"}, wantErr: "--dedup-window/DEDUP_WINDOW"},
		{name: "a window past 2^30 slots is refused", env: map[string]string{"DEDUP_WINDOW": "1073741825"}, args: []string{"--id", "1"},
			wantErr: "DEDUP_WINDOW 1073741825 is too large: at most 1073741824 slots"},
		{name: "a window of 2^30 slots is taken", env: map[string]string{"DEDUP_WINDOW": "1073741824"}, args: []string{"--id", "1"},
			check: func(t *testing.T, c server.Config) {
				if c.Core.DedupWindow != 1<<30 {
					t.Errorf("dedup window %d; want 1073741824", c.Core.DedupWindow)
				}
			}},
		{name: "TRACE=0 turns the trace off", env: map[string]string{"TRACE": "0"}, args: []string{"--id", "4"},
			check: func(t *testing.T, c server.Config) {
				if !c.NoTrace {
					t.Error("TRACE=0: the trace is on")
				}
			}},
		{name: "--trace=false turns the trace off, --trace wins over TRACE", env: map[string]string{"TRACE": "false"}, args: []string{"--id", "4", "--trace=true"},
			check: func(t *testing.T, c server.Config) {
				if c.NoTrace {
					t.Error("--trace=true: the trace is off")
				}
			}},
		{name: "--trace=false", args: []string{"--id", "1", "--trace=false"},
			check: func(t *testing.T, c server.Config) {
				if !c.NoTrace {
					t.Error("--trace=false: the trace is on")
				}
			}},
		{name: "cluster ID from CLUSTER_ID", env: map[string]string{"CLUSTER_ID": "staging"}, args: []string{"--id", "4"},
			check: func(t *testing.T, c server.Config) {
				if c.ClusterID != "staging" {
					t.Errorf("cluster ID %q, want staging", c.ClusterID)
				}
			}},
		{name: "cluster ID default", args: []string{"--id", "4"},
			check: func(t *testing.T, c server.Config) {
				if c.ClusterID != server.DefaultClusterID {
					t.Errorf("cluster ID %q, want %q", c.ClusterID, server.DefaultClusterID)
				}
			}},
		{name: "secret from CLUSTER_SECRET_FILE", env: map[string]string{"CLUSTER_SECRET_FILE": secretFile}, args: []string{"--id", "4"},
			check: func(t *testing.T, c server.Config) {
				if c.Secret != "s3cret" {
					t.Errorf("secret %q, want s3cret (the file's content without its newline)", c.Secret)
				}
			}},
		{name: "secret and secret file", env: map[string]string{"CLUSTER_SECRET": "x", "CLUSTER_SECRET_FILE": secretFile}, args: []string{"--id", "4"},
			wantErr: "both set"},
		{name: "missing secret file", args: []string{"--id", "4", "--secret-file", "/nonexistent/secret"}, wantErr: "/nonexistent/secret"},
		{name: "empty secret file", args: []string{"--id", "4", "--secret-file", emptyFile}, wantErr: "is empty"},
		{name: "TLS_DIR names the three TLS files", env: map[string]string{"TLS_DIR": "/tls"}, args: []string{"--id", "4"},
			check: func(t *testing.T, c server.Config) {
				if c.CertFile != "/tls/node.crt" || c.KeyFile != "/tls/node.key" || c.TrustedCAFile != "/tls/ca.crt" {
					t.Errorf("TLS files %q %q %q, want /tls/node.crt, /tls/node.key, /tls/ca.crt", c.CertFile, c.KeyFile, c.TrustedCAFile)
				}
			}},
		{name: "TLS_DIR and a TLS file", env: map[string]string{"TLS_DIR": "/tls", "CERT_FILE": "/x.crt"}, args: []string{"--id", "4"},
			wantErr: "both set"},
		{name: "advertise: the topology host by default, GOSSIP_ADVERTISE", env: map[string]string{"GOSSIP_ADVERTISE": "acceptor1:17946"},
			args: []string{"--id", "4", "--acceptors", "4@10.0.0.4:4001,5@10.0.0.5:4001,6@10.0.0.6:4001"},
			check: func(t *testing.T, c server.Config) {
				if c.Advertise != "10.0.0.4" || c.GossipAdvertise != "acceptor1:17946" {
					t.Errorf("advertise %q gossip advertise %q, want 10.0.0.4 and acceptor1:17946", c.Advertise, c.GossipAdvertise)
				}
			}},
		{name: "bad GOSSIP_ADVERTISE port", args: []string{"--id", "4", "--gossip-advertise", "acceptor1:0"}, wantErr: "want HOST or HOST:PORT"},
		{name: "cluster ID with a space", args: []string{"--id", "4", "--cluster-id", "my cluster"}, wantErr: "no spaces or control characters"},
		{name: "empty cluster ID", env: map[string]string{"CLUSTER_ID": " "}, args: []string{"--id", "4"}, wantErr: "--cluster-id/CLUSTER_ID: must not be empty"},
		{
			name: "standard defaults per role",
			args: []string{"--id", "10"},
			check: func(t *testing.T, c server.Config) {
				if c.Name != "client2" || c.Role != server.RoleClient || c.Listen != ":6002" || c.MonitorListen != ":8010" || c.GossipPort != 7010 {
					t.Errorf("got %s %s %s %s %d", c.Name, c.Role, c.Listen, c.MonitorListen, c.GossipPort)
				}
			},
		},
		{
			name: "environment variables",
			env: map[string]string{
				"NODE_ID": "7", "NODE_ROLE": "Learner", "NODE_NAME": "l1", "PORT": "5101",
				"MONITOR_PORT": "9107", "ADVERTISE_HOST": "10.0.0.7", "GOSSIP_PORT": "7946",
				"GOSSIP_BIND": "10.0.0.7", "JOIN": " 10.0.0.1:7946 ,10.0.0.4:7946,", "DATA_DIR": "/data",
				"CLUSTER_SECRET": "s3cret", "CLIENT_TOKEN": "tok", "TICK": "20ms",
				"REQUEST_TIMEOUT": "2s", "MAX_VALUE_BYTES": "4096", "NO_SYNC": "true",
			},
			check: func(t *testing.T, c server.Config) {
				if c.ID != 7 || c.Role != server.RoleLearner || c.Name != "l1" || c.Listen != ":5101" ||
					c.MonitorListen != ":9107" || c.Advertise != "10.0.0.7" || c.GossipPort != 7946 ||
					c.GossipBind != "10.0.0.7" || strings.Join(c.Join, ",") != "10.0.0.1:7946,10.0.0.4:7946" ||
					c.DataDir != "/data" || c.Secret != "s3cret" || c.ClientToken != "tok" ||
					c.Tick != 20*time.Millisecond || c.RequestTimeout != 2*time.Second ||
					c.MaxValueBytes != 4096 || !c.NoSync {
					t.Errorf("config from env: %+v", c)
				}
			},
		},
		{
			name: "flags win over environment",
			env:  map[string]string{"NODE_ID": "5", "PORT": "9999", "LOG_LEVEL": "debug"},
			args: []string{"--id", "6", "--port", "4103", "--tick", "1s"},
			check: func(t *testing.T, c server.Config) {
				if c.ID != 6 || c.Name != "acceptor3" || c.Listen != ":4103" || c.Tick != time.Second {
					t.Errorf("got id %d name %s listen %s tick %v", c.ID, c.Name, c.Listen, c.Tick)
				}
			},
		},
		{
			name: "--listen overrides --port",
			args: []string{"--id", "1", "--port", "3999", "--listen", "127.0.0.1:3555"},
			check: func(t *testing.T, c server.Config) {
				if c.Listen != "127.0.0.1:3555" {
					t.Errorf("listen %q", c.Listen)
				}
			},
		},
		{
			name: "monitor port 0 disables the monitor",
			env:  map[string]string{"MONITOR_PORT": "0"},
			args: []string{"--id", "2"},
			check: func(t *testing.T, c server.Config) {
				if c.MonitorListen != "" {
					t.Errorf("monitor %q, want disabled", c.MonitorListen)
				}
			},
		},
		{
			name: "empty environment values mean the default",
			env:  map[string]string{"NODE_ID": "3", "PORT": "", "MONITOR_PORT": "", "GOSSIP_BIND": "", "DATA_DIR": "", "ACCEPTORS": ""},
			check: func(t *testing.T, c server.Config) {
				if c.Listen != ":3003" || c.MonitorListen != ":8003" || c.GossipBind != "0.0.0.0" ||
					c.DataDir != "volumes/proposer3" || len(c.Acceptors) != 3 {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "compose: peers at node names, gossip 7946",
			env:  map[string]string{"COMPOSE": "1", "NODE_ID": "4"},
			check: func(t *testing.T, c server.Config) {
				if got, want := server.FormatPeers(c.Acceptors), "4@acceptor1:4001,5@acceptor2:4002,6@acceptor3:4003"; got != want {
					t.Errorf("acceptors %s, want %s", got, want)
				}
				if got, want := server.FormatPeers(c.Proposers), "1@proposer1:3001,2@proposer2:3002,3@proposer3:3003"; got != want {
					t.Errorf("proposers %s, want %s", got, want)
				}
				if c.Advertise != "acceptor1" || c.GossipPort != 7946 || c.Listen != ":4001" {
					t.Errorf("advertise %s gossip %d listen %s", c.Advertise, c.GossipPort, c.Listen)
				}
			},
		},
		{
			name: "custom acceptors set the role, name and port",
			env:  map[string]string{"ACCEPTORS": "14@10.0.0.4:4101,15@10.0.0.5:4101,16@10.0.0.6:4101"},
			args: []string{"--id", "15"},
			check: func(t *testing.T, c server.Config) {
				if c.Role != server.RoleAcceptor || c.Name != "10.0.0.5" || c.Listen != ":4101" || c.GossipPort != 7015 {
					t.Errorf("got role %s name %s listen %s gossip %d", c.Role, c.Name, c.Listen, c.GossipPort)
				}
				if len(c.Acceptors) != 3 || len(c.Proposers) != 3 {
					t.Errorf("topology: %d acceptors, %d proposers", len(c.Acceptors), len(c.Proposers))
				}
			},
		},
		{
			name: "compose-style acceptors without IDs",
			env:  map[string]string{"ACCEPTORS": "acceptor1:4001,acceptor2:4002,acceptor3:4003", "NODE_ID": "5"},
			check: func(t *testing.T, c server.Config) {
				if c.Name != "acceptor2" || c.Listen != ":4002" {
					t.Errorf("name %s listen %s", c.Name, c.Listen)
				}
			},
		},
		{name: "bad ACCEPTORS value", env: map[string]string{"ACCEPTORS": "acceptor1:4001,acceptor2"}, args: []string{"--id", "1"},
			wantErr: `--acceptors/ACCEPTORS: acceptor entry "acceptor2": want [ID@]HOST:PORT`},
		{name: "bad acceptor ID", args: []string{"--id", "1", "--acceptors", "x@h:1"},
			wantErr: `"x" is not a node ID`},
		{name: "unknown role", args: []string{"--id", "4", "--role", "leader"},
			wantErr: `--role/NODE_ROLE: unknown role "leader"`},
		{name: "role contradicts the topology", env: map[string]string{"NODE_ROLE": "proposer"}, args: []string{"--id", "4"},
			wantErr: "is a acceptor in the topology"},
		{name: "missing ID", wantErr: "node ID must be set"},
		{name: "ID outside the topology", args: []string{"--id", "42"}, wantErr: "node ID 42 is not in the topology"},
		{name: "duplicate ID", args: []string{"--id", "1", "--acceptors", "1@h:1,5@h:2,6@h:3"}, wantErr: "node ID 1 is used by both"},
		{name: "bad port", args: []string{"--id", "1", "--port", "70000"}, wantErr: "--port/PORT 70000"},
		{name: "bad listen", args: []string{"--id", "1", "--listen", "3001"}, wantErr: "--listen/LISTEN_ADDR"},
		{name: "bad gossip port", env: map[string]string{"GOSSIP_PORT": "-1"}, args: []string{"--id", "1"}, wantErr: "--gossip-port/GOSSIP_PORT -1"},
		{name: "unparsable env", env: map[string]string{"NODE_ID": "four"}, wantErr: `could not parse "four"`},
		{name: "unparsable duration", env: map[string]string{"NODE_ID": "1", "TICK": "fast"}, wantErr: `"fast" as duration`},
		{name: "zero tick", args: []string{"--id", "1", "--tick", "0s"}, wantErr: "--tick/TICK 0s: must be positive"},
		{name: "zero max value", args: []string{"--id", "1", "--max-value-bytes", "0"}, wantErr: "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := buildConfig(t, tt.env, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

// A configuration error is an exit status 3 with a one-line message, and no
// server is started.
func TestPaxosdConfigErrorExitStatus(t *testing.T) {
	for _, args := range [][]string{
		{"--id", "4", "--role", "bogus"},
		{"--id", "4", "--log-format", "xml"},
		{"--id", "4", "--log-level", "loud"},
		{"--id", "4", "--no-such-flag"},
		{"--id", "4", "extra"},
	} {
		clearPaxosdEnv(t)
		var out bytes.Buffer
		app := PaxosdApp()
		app.Writer, app.ErrWriter = &out, &out
		err := app.Run(append([]string{"paxosd"}, args...))
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != exitConfig {
			t.Errorf("%v: error %v, want exit status %d", args, err, exitConfig)
			continue
		}
		if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
			t.Errorf("%v: message %q, want one line", args, msg)
		}
		if out.Len() != 0 {
			t.Errorf("%v: printed %q; main prints errors", args, out.String())
		}
	}
}

func TestPaxosdHelpAndVersion(t *testing.T) {
	clearPaxosdEnv(t)
	var out bytes.Buffer
	app := PaxosdApp()
	app.Writer = &out
	if err := app.Run([]string{"paxosd", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Examples:", "paxosd --id 4", "COMPOSE=1", "NODE_ID", "CLUSTER_SECRET", "$ACCEPTORS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	out.Reset()
	if err := app.Run([]string{"paxosd", "--version"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), Version) {
		t.Errorf("--version printed %q, want %q", out.String(), Version)
	}
}

func TestPaxosdLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := paxosdLogger(&buf, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Errorf("json logger at warn wrote %q", s)
	}
	for _, tc := range []struct{ format, level string }{{"xml", "info"}, {"text", "loud"}} {
		if _, err := paxosdLogger(io.Discard, tc.format, tc.level); err == nil {
			t.Errorf("paxosdLogger(%q, %q): no error", tc.format, tc.level)
		}
	}
}

// The start log says whether a secret is set but never shows it, and warns
// when it is not set.
func TestLogStartHidesSecrets(t *testing.T) {
	cfg, err := buildConfig(t, map[string]string{"CLUSTER_SECRET": "hunter2", "CLIENT_TOKEN": "tok-123"}, "--id", "4")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	logStart(slog.New(slog.NewTextHandler(&buf, nil)), cfg)
	if s := buf.String(); strings.Contains(s, "hunter2") || strings.Contains(s, "tok-123") || !strings.Contains(s, "secret_set=true") {
		t.Errorf("start log: %s", s)
	}
	if strings.Contains(buf.String(), "internal endpoints are open") {
		t.Error("warned about a missing secret that is set")
	}

	cfg.Secret = ""
	buf.Reset()
	logStart(slog.New(slog.NewTextHandler(&buf, nil)), cfg)
	if !strings.Contains(buf.String(), "internal endpoints are open: set CLUSTER_SECRET") {
		t.Errorf("no warning without a secret: %s", buf.String())
	}
}

// An acceptor whose write-ahead file is gone while its bbolt file records
// it does not start (it would have forgotten its promises): paxosd returns
// an error (main exits non-zero) naming the missing file.
func TestPaxosdRefusesMissingWAL(t *testing.T) {
	clearPaxosdEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "acceptor.db")
	a, err := storage.OpenLoggedAcceptor(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(a.Accept(301, nil), a.Close()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(db + ".wal"); err != nil {
		t.Fatal(err)
	}
	err = runPaxosdOn(t, dir, "--id", "4")
	if err == nil || !errors.Is(err, storage.ErrMissingWAL) || !strings.Contains(err.Error(), db+".wal") {
		t.Fatalf("paxosd on a data dir without its write-ahead file: %v; want ErrMissingWAL naming %s", err, db+".wal")
	}
	if _, err := os.Stat(db + ".wal"); err == nil {
		t.Errorf("paxosd created %s again", db+".wal")
	}
}

// A node started on the data dir of another node or cluster refuses it:
// paxosd returns a configuration error (exit status 3) naming both
// identities, and the dir is left as it was.
func TestPaxosdRefusesOtherDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := storage.ClaimDir(dir, storage.Identity{ClusterID: "paxos", NodeID: 5}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--id", "4"}, []string{`cluster "paxos" node 5`, `cluster "paxos" node 4`}},
		{[]string{"--id", "5", "--cluster-id", "prod"}, []string{`cluster "paxos" node 5`, `cluster "prod" node 5`}},
	} {
		err := runPaxosdOn(t, dir, tc.args...)
		if !errors.Is(err, storage.ErrWrongDir) || exitCode(err) != exitConfig {
			t.Fatalf("paxosd %v on node 5's data dir: %v (exit %d); want ErrWrongDir, exit %d", tc.args, err, exitCode(err), exitConfig)
		}
		for _, w := range append(tc.want, dir) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("paxosd %v: %q does not name %s", tc.args, err, w)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the refused data dir holds %d entries, want only %s", len(entries), storage.IdentityFile)
	}
}

// runPaxosdOn runs paxosd with args on data dir dir, on loopback ports,
// for at most 5 s, and returns what Run returned.
func runPaxosdOn(t *testing.T, dir string, args ...string) error {
	t.Helper()
	clearPaxosdEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for gossip
	if err != nil {
		t.Fatal(err)
	}
	gossip := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	app := PaxosdApp()
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return app.RunContext(ctx, append([]string{"paxosd", "--data-dir", dir, "--listen", "127.0.0.1:0",
		"--monitor-port", "0", "--gossip-bind", "127.0.0.1", "--gossip-port", gossip, "--no-sync"}, args...))
}

// TestRunPaxosd: what cmd/paxosd's one line returns and prints: status 3
// and one line for a configuration error, 0 for --version.
func TestRunPaxosd(t *testing.T) {
	clearPaxosdEnv(t)
	var stderr bytes.Buffer
	if code := RunPaxosd([]string{"paxosd", "--id", "4", "--tick", "-1s"}, &stderr); code != exitConfig {
		t.Errorf("bad --tick: status %d, want %d (stderr %q)", code, exitConfig, stderr.String())
	}
	if got := stderr.String(); !strings.HasPrefix(got, "paxosd: --tick/TICK") || strings.Count(got, "\n") != 1 {
		t.Errorf("bad --tick: stderr %q, want one line paxosd: --tick/TICK ...", got)
	}
	stderr.Reset()
	if code := RunPaxosd([]string{"paxosd", "--version"}, &stderr); code != 0 || stderr.Len() != 0 {
		t.Errorf("--version: status %d, stderr %q", code, stderr.String())
	}
}
