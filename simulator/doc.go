// Package simulator plays Looker against an Action Hub: ours or Google's Node hub.
//
// It speaks only the wire protocol of the Action API (see the Client type): it fetches the
// action list, renders and re-fetches forms, and executes actions with the headers Looker
// sends. It serves what Looker serves to a hub: one-time download URLs that stream
// generated or uploaded data in every format Looker offers (so a ten-million-row send
// never sits in memory), one-time state URLs where the hub stores a user's OAuth state,
// and the OAuth v2 token redirect that makes the simulator call the hub's token route.
//
// The same machinery backs a small local web page (server-rendered, html/template, almost
// no JavaScript; see Simulator.Handler) and the lookersim command line (see Main).
// Secrets (the hub key, sensitive params, user state) are masked in everything the
// simulator shows or keeps in its history.
package simulator
