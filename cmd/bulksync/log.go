package main

import (
	"io"
	"log/slog"
	"strings"
)

// newLogger returns the logger of a command: slog's text lines on stderr,
// or JSON lines when BULKSYNC_LOG_FORMAT is "json" (for services whose
// logs are collected), at the level BULKSYNC_LOG names.
func newLogger(stderr io.Writer, getenv env) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevel(getenv("BULKSYNC_LOG"))}
	if strings.EqualFold(getenv("BULKSYNC_LOG_FORMAT"), "json") {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}
