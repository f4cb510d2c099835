// Package app is the composition root: it turns a validated config.Config into a running node —
// the store, the secrets, the key registry, the services, the web server and the background
// workers — and is the only place that knows how they fit together. Commands (serve, migrate,
// admin) all start from Open, so they see exactly the same wiring.
package app
