# The paxos node image: the static binaries of "make build" on an empty base.
#
# This engine cannot pull any base image, so the image is FROM scratch and
# the binaries are built on the host first:
#
#   make image          # = make build && docker build -t paxos:local .
#
# Dockerfile.multistage builds them in a golang image instead: that is what
# a bare "docker compose up" on a fresh clone (no bin/) does.
#
# The image holds /paxosd, /paxosctl (when bin/paxosctl was built) and an
# empty /data for the node's bbolt file; docker-compose.yml bind-mounts
# ./volumes/<name> there. It runs as root so that it can write the
# bind-mounted folders that Docker creates as root on the host.
FROM scratch

# bin/paxosct[l] matches nothing until cmd/paxosctl exists; COPY needs only
# one of its sources to match.
COPY bin/paxosd bin/paxosct[l] /

# WORKDIR creates /data (there is no mkdir in scratch).
WORKDIR /data
VOLUME ["/data"]

ENV DATA_DIR=/data
# scratch has no PATH of its own and the binaries sit at /: with / on the
# PATH, "docker exec proposer1 paxosctl status" finds paxosctl (the Compose
# file tells it where the cluster is: PAXOSCTL_ENDPOINTS).
ENV PATH=/

# The Compose file sets its own, faster healthcheck; this one serves
# "docker run". paxosd health reads PORT (or NODE_ID) from the environment.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 CMD ["/paxosd", "health"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["/paxosd"]
