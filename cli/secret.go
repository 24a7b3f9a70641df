package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// readSecret gives the cluster secret from --secret/CLUSTER_SECRET or from
// the file --secret-file/CLUSTER_SECRET_FILE names (a Docker or Kubernetes
// secret mounted as a file), for paxosd and paxosctl alike. Both set, an
// unreadable file or an empty one is an error that names the flags.
func readSecret(secret, file string) (string, error) {
	file = strings.TrimSpace(file)
	if file == "" {
		return secret, nil
	}
	if secret != "" {
		return "", errors.New("--secret/CLUSTER_SECRET and --secret-file/CLUSTER_SECRET_FILE are both set: set one")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--secret-file/CLUSTER_SECRET_FILE: %w", err)
	}
	if secret = strings.TrimSpace(string(data)); secret == "" {
		return "", fmt.Errorf("--secret-file/CLUSTER_SECRET_FILE: %s is empty", file)
	}
	return secret, nil
}
