package cmd

import (
	"context"
	"io"

	"github.com/portero/portero/config"
	"github.com/portero/portero/db"
)

func migrate(ctx context.Context, getenv config.Getenv, stderr io.Writer) error {
	cfg, err := config.LoadDatabase(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)

	database, err := db.Open(ctx, cfg.DatabaseURL, cfg.DatabaseOptions)
	if err != nil {
		return err
	}
	defer database.Close()

	if err := waitForDatabase(ctx, database, logger); err != nil {
		return err
	}

	return database.Migrate(ctx, logger)
}
