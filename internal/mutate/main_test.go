package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListApplies checks every mutation of scripts/mutants.txt against the
// tree as it is: its snippet is in its file exactly once and the mutated
// file still parses. make mutants fails on the same errors, but much later.
func TestListApplies(t *testing.T) {
	root := filepath.Join("..", "..")
	muts, err := parseFile(filepath.Join(root, "scripts", "mutants.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(muts) == 0 {
		t.Fatal("scripts/mutants.txt lists no mutation")
	}
	for _, m := range muts {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
		if err != nil {
			t.Errorf("mutation %s: %v", m.Name, err)
			continue
		}
		src, err := m.mutate(string(data))
		if err != nil {
			t.Error(err)
			continue
		}
		if strings.HasSuffix(m.File, ".go") {
			if _, err := parser.ParseFile(token.NewFileSet(), m.File, src, 0); err != nil {
				t.Errorf("mutation %s: the mutated file does not parse: %v", m.Name, err)
			}
		}
	}
}

func TestParse(t *testing.T) {
	list := "# a comment\n\n== flip\nfile: a.go\nwhy: flips it\n--- original\n\tif a {\n\t\tb()\n\n+++ mutant\n\tif !a {\n\t\tb()\n\n== drop\nfile: b.go\nwhy: drops it\n--- original\nx := 1\n+++ mutant\n"
	muts, err := parse("list", list)
	if err != nil {
		t.Fatal(err)
	}
	if len(muts) != 2 {
		t.Fatalf("got %d mutations, want 2", len(muts))
	}
	if m := muts[0]; m.Name != "flip" || m.File != "a.go" || m.Why != "flips it" ||
		m.Original != "\tif a {\n\t\tb()" || m.Mutant != "\tif !a {\n\t\tb()" {
		t.Errorf("first mutation: %+v", m)
	}
	if m := muts[1]; m.Original != "x := 1" || m.Mutant != "" {
		t.Errorf("second mutation: %+v", m)
	}
	got, err := muts[0].mutate("package a\n\tif a {\n\t\tb()\n}\n")
	if err != nil || got != "package a\n\tif !a {\n\t\tb()\n}\n" {
		t.Errorf("mutate: %q, %v", got, err)
	}
	if _, err := muts[0].mutate("package a\n"); err == nil || !strings.Contains(err.Error(), "code moved") {
		t.Errorf("a snippet not found: err = %v, want the code moved", err)
	}
	if _, err := muts[1].mutate("x := 1\nx := 1\n"); err == nil {
		t.Error("a snippet found twice: no error")
	}
	for _, bad := range []string{
		"== a\nwhy: w\n--- original\nx\n",                         // no file
		"== a\nfile: f\nwhy: w\n",                                 // no snippet
		"== a\nfile: f\nwhy: w\n--- original\nx\n+++ mutant\nx\n", // no change
		"stray line\n",
	} {
		if _, err := parse("list", bad); err == nil {
			t.Errorf("parse(%q): no error", bad)
		}
	}
}
