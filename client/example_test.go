package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/paxos-go/paxos/client"
)

// Append a value through the proposers of a local cluster (scripts/local.sh
// up), then again with the same request ID: the second Put finds the first
// one's slot instead of writing the value twice.
func ExampleClient_Put() {
	c, err := client.New(client.Config{
		Endpoints: []string{"127.0.0.1:3001", "127.0.0.1:3002", "127.0.0.1:3003"},
		Token:     "", // the cluster's CLIENT_TOKEN, if it has one
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	slot, id, err := c.Put(ctx, "hello")
	var alarm *client.AlarmError
	switch {
	case errors.As(err, &alarm):
		log.Fatalf("the cluster refuses writes for now: %s", alarm.Alarm)
	case errors.Is(err, client.ErrTimeout):
		log.Fatalf("not confirmed in time; Put again WithRequestID(%q) to find out", id)
	case err != nil:
		log.Fatal(err)
	}
	again, _, err := c.Put(ctx, "hello", client.WithRequestID(id))
	fmt.Println(slot == again, err)
}
