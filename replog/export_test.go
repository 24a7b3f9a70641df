package replog

// SetQuorum overrides the quorum size of c; the simulation uses it to show it
// catches a broken quorum rule.
func SetQuorum(c *Config, q int) { c.quorum = q }

// SetNoRejoin turns the acceptors' rejoin rule off in c; the simulation
// uses it to show it catches an acceptor that lost its disk and votes.
func SetNoRejoin(c *Config) { c.noRejoin = true }

// SetCompactChosen makes a proposer compact at the chosen watermark, without
// waiting for any learner to hold it (a broken rule, for the simulation).
func SetCompactChosen(c *Config) { c.compactChosen = true }
