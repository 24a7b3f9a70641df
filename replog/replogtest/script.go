package replogtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A script is a golden file of commands, each followed by the output it
// must print:
//
//	# a comment, kept as it is
//	campaign 1
//	----
//	1: save round=1
//	1: send 1->4 MsgPrepare b=101
//
// A command is a name and arguments, each a word or key=value. Its output
// runs from the line "----" to the next blank line (an output has no blank
// lines; an empty one is written "ok").

// Cmd is one command of a script.
type Cmd struct {
	Pos  string // file:line, for errors
	Name string
	Args []Arg
}

// Arg is a word (Val is "") or key=value.
type Arg struct{ Key, Val string }

// Has reports whether c has the word or key name.
func (c Cmd) Has(name string) bool {
	for _, a := range c.Args {
		if a.Key == name {
			return true
		}
	}
	return false
}

// Get returns the value of key name ("" when absent).
func (c Cmd) Get(name string) string {
	for _, a := range c.Args {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// Words returns the arguments that are words, in order.
func (c Cmd) Words() []string {
	var words []string
	for _, a := range c.Args {
		if a.Val == "" {
			words = append(words, a.Key)
		}
	}
	return words
}

func (c Cmd) String() string {
	parts := []string{c.Name}
	for _, a := range c.Args {
		if a.Val == "" {
			parts = append(parts, a.Key)
		} else {
			parts = append(parts, a.Key+"="+a.Val)
		}
	}
	return strings.Join(parts, " ")
}

// parseCmd reads a command line.
func parseCmd(pos, line string) Cmd {
	fields := strings.Fields(line)
	c := Cmd{Pos: pos, Name: fields[0]}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		c.Args = append(c.Args, Arg{Key: k, Val: v})
	}
	return c
}

// RunScript runs the script at path through run, which returns a
// command's output, and fails t where an output differs from the one
// written. With rewrite it writes the outputs into the file instead.
func RunScript(t *testing.T, path string, rewrite bool, run func(Cmd) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder // the file as rewritten
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			out.WriteString(line + "\n")
			continue
		}
		cmd := parseCmd(fmt.Sprintf("%s:%d", path, i+1), line)
		var want []string
		if i+1 < len(lines) && lines[i+1] == "----" {
			for i += 2; i < len(lines) && lines[i] != ""; i++ {
				want = append(want, lines[i])
			}
			i-- // the blank line after the output is copied as it is
		}
		got := run(cmd)
		if got == "" {
			got = "ok"
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n", line, got)
		if !rewrite && got != strings.Join(want, "\n") {
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", cmd.Pos, line, got, strings.Join(want, "\n"))
		}
	}
	if rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
