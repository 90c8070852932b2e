// Package server is the Action API HTTP server: the routes, JSON shapes, API-key check,
// keep-alive replies, OAuth routes and logging of the Node Action Hub, serving the actions
// registered with sdk.Register. cmd/actionhub and private hubs call Main; tests use New.
package server
