// Package lightcore holds only a test: the check that the core module stays
// light. A program importing the core packages (trigger, signer, transport,
// webhook and its netguard and health subpackages) must find none of River,
// pgx, SQLite drivers, OpenTelemetry or chromedp in its module graph, and no
// package under transport/ may import package webhook.
package lightcore
