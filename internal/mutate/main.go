// Command mutate reads the list of semantic mutations of scripts/mutants.txt
// and applies one of them to a copy of the repository; scripts/mutants.sh
// drives it (make mutants).
//
//	mutate list FILE               one line per mutation: name, tab, description
//	mutate apply FILE NAME DIR     apply mutation NAME to the copy in DIR
//
// apply fails when the mutation's original snippet is not in its file
// exactly once: the code moved, and the list must follow it.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: mutate list FILE | mutate apply FILE NAME DIR")
	}
	muts, err := parseFile(args[1])
	if err != nil {
		return err
	}
	switch {
	case args[0] == "list" && len(args) == 2:
		for _, m := range muts {
			fmt.Printf("%s\t%s\n", m.Name, m.Why)
		}
		return nil
	case args[0] == "apply" && len(args) == 4:
		for _, m := range muts {
			if m.Name == args[2] {
				return m.apply(args[3])
			}
		}
		return fmt.Errorf("no mutation %q in %s", args[2], args[1])
	}
	return errors.New("usage: mutate list FILE | mutate apply FILE NAME DIR")
}

// mutation is one entry of the list: in File, Original (exactly once)
// becomes Mutant.
type mutation struct {
	Name, File, Why  string
	Original, Mutant string
	line             int // where the entry starts in the list
}

// The list format (scripts/mutants.txt):
//
//	== name
//	file: path/from/the/repository/root.go
//	why: what the mutation breaks, in one line
//	--- original
//	exact lines of the file (tabs included)
//	+++ mutant
//	the lines that replace them
//
// Lines starting with # are comments, inside snippets too (no Go line starts
// with #). Trailing empty lines of a snippet do not count.
func parseFile(path string) ([]mutation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, string(data))
}

func parse(path, text string) ([]mutation, error) {
	var (
		out     []mutation
		cur     *mutation
		section string // "", "original" or "mutant"
		buf     []string
	)
	flush := func() {
		if cur == nil {
			return
		}
		snippet := strings.Join(trimTrailingEmpty(buf), "\n")
		switch section {
		case "original":
			cur.Original = snippet
		case "mutant":
			cur.Mutant = snippet
		}
		buf = nil
	}
	finish := func() error {
		if cur == nil {
			return nil
		}
		flush()
		m := *cur
		switch {
		case m.File == "" || m.Why == "":
			return fmt.Errorf("%s:%d: mutation %s needs file: and why:", path, m.line, m.Name)
		case m.Original == "":
			return fmt.Errorf("%s:%d: mutation %s has no original snippet", path, m.line, m.Name)
		case m.Original == m.Mutant:
			return fmt.Errorf("%s:%d: mutation %s changes nothing", path, m.line, m.Name)
		}
		for _, o := range out {
			if o.Name == m.Name {
				return fmt.Errorf("%s:%d: mutation %s listed twice", path, m.line, m.Name)
			}
		}
		out = append(out, m)
		cur, section = nil, ""
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "== "):
			if err := finish(); err != nil {
				return nil, err
			}
			cur = &mutation{Name: strings.TrimSpace(line[3:]), line: i + 1}
		case cur != nil && line == "--- original":
			section = "original"
		case cur != nil && line == "+++ mutant":
			flush()
			section = "mutant"
		case cur != nil && section != "":
			buf = append(buf, line)
		case strings.TrimSpace(line) == "":
		case cur != nil && strings.HasPrefix(line, "file:"):
			cur.File = strings.TrimSpace(line[len("file:"):])
		case cur != nil && strings.HasPrefix(line, "why:"):
			cur.Why = strings.TrimSpace(line[len("why:"):])
		default:
			return nil, fmt.Errorf("%s:%d: unexpected line %q", path, i+1, line)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return out, nil
}

func trimTrailingEmpty(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// apply rewrites m.File under dir with the mutation.
func (m mutation) apply(dir string) error {
	path := filepath.Join(dir, filepath.FromSlash(m.File))
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("mutation %s: %w", m.Name, err)
	}
	src, err := m.mutate(string(data))
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(src), 0o644)
}

// mutate returns src with the mutation applied.
func (m mutation) mutate(src string) (string, error) {
	switch n := strings.Count(src, m.Original); n {
	case 1:
		return strings.Replace(src, m.Original, m.Mutant, 1), nil
	case 0:
		return "", fmt.Errorf("mutation %s: its original snippet is not in %s (the code moved: update scripts/mutants.txt)", m.Name, m.File)
	default:
		return "", fmt.Errorf("mutation %s: its original snippet is in %s %d times: make it unique", m.Name, m.File, n)
	}
}
