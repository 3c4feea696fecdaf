// A locally built stand-in for registry.k8s.io/pause (no registry is reachable in the tests): the
// sandbox process of every pod, which only has to stay alive until it is told to stop.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
