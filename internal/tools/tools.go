//go:build tools

// Package tools pins the fixed dependencies before the packages that use them exist.
package tools

import (
	_ "github.com/anishathalye/porcupine"
	_ "github.com/hashicorp/memberlist"
	_ "github.com/julienschmidt/httprouter"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/urfave/cli/v2"
	_ "go.etcd.io/bbolt"
)
