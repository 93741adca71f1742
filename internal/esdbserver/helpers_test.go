package esdbserver_test

import (
	"strings"

	"github.com/portal-access/backend/internal/esdbserver"
	"github.com/portal-access/backend/internal/testkit"
)

func startErr(dir string) (*esdbserver.Server, error) {
	s, err := esdbserver.Start(esdbserver.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: testkit.Logger()})
	if s != nil {
		s.Close()
	}
	return s, err
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
