package cli

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print paxosctl's version",
		UsageText: "paxosctl version",
		Description: `version prints the version paxosctl was built from (make build sets it
from git describe) and the Go version.

Examples:
   paxosctl version
   paxosctl -w json version`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badInput("version", "unexpected argument %q", c.Args().First())
			}
			p := &printer{format: c.String("write-out"), w: c.App.Writer}
			v := struct {
				Version string `json:"version"`
				Go      string `json:"go"`
			}{Version, runtime.Version()}
			return p.print(result{
				Header: []string{"PAXOSCTL", "GO"},
				Rows:   [][]string{{v.Version, v.Go}},
				JSON:   v,
				Text:   fmt.Sprintf("paxosctl version %s (%s)", v.Version, v.Go),
			})
		},
	}
}
