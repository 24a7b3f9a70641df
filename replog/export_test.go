package replog

// SetQuorum overrides the quorum size of c; the simulation uses it to show it
// catches a broken quorum rule.
func SetQuorum(c *Config, q int) { c.quorum = q }
