package cmd

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/portero/portero/config"
)

// healthcheck requests /healthz on the local port, for a Docker HEALTHCHECK
// in an image that has no curl.
func healthcheck(ctx context.Context, getenv config.Getenv) error {
	port, err := config.LoadPort(getenv)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()

	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check of %s failed: %w", url, err)
	}
	resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check of %s failed: status %d, want 200", url, resp.StatusCode)
	}

	return nil
}
