package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// bashCompletion is urfave/cli's bash completion script for paxosctl: it
// asks paxosctl itself (--generate-bash-completion) for the words.
const bashCompletion = `# bash completion for paxosctl; load with: source <(paxosctl completion bash)
_paxosctl_complete() {
  local cur words
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  local opts
  if [[ "$cur" == "-"* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  mapfile -t COMPREPLY < <(compgen -W "${opts}" -- "${cur}")
  return 0
}
complete -o bashdefault -o default -F _paxosctl_complete paxosctl
`

// zshCompletion is urfave/cli's zsh completion script for paxosctl.
const zshCompletion = `#compdef paxosctl
# zsh completion for paxosctl; load with: source <(paxosctl completion zsh)
_paxosctl() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _paxosctl paxosctl
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		UsageText: "paxosctl completion bash|zsh|fish",
		Description: `completion prints a script that makes the shell complete paxosctl's
commands and flags (urfave/cli's completion: the script asks paxosctl).

Examples:
   source <(paxosctl completion bash)                 # this shell
   paxosctl completion bash > /etc/bash_completion.d/paxosctl
   paxosctl completion zsh > "${fpath[1]}/_paxosctl"
   paxosctl completion fish > ~/.config/fish/completions/paxosctl.fish`,
		Action: func(c *cli.Context) error {
			shell := strings.ToLower(c.Args().First())
			if c.NArg() != 1 {
				return badInput("completion", "want one shell: bash, zsh or fish")
			}
			var script string
			switch shell {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return failed("completion", err)
				}
				script = s
			default:
				return badInput("completion", "shell %q: want bash, zsh or fish", shell)
			}
			_, err := fmt.Fprint(c.App.Writer, script)
			return err
		},
	}
}
