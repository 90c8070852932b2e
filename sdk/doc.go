// Package sdk is the public toolkit for writing Looker actions served by this Action Hub.
//
// An action is a value that implements [Action]: a [Definition] (what Looker lists) and an
// Execute method. Optional behaviour is discovered by interface assertion, as net/http does
// with http.Flusher: an action with a form implements [FormAction], an OAuth action
// implements [OAuthAction] or [OAuthV2Action], a delegate-OAuth action implements
// [DelegateOAuthAction].
//
// Actions register themselves from their own package with [Register] (as Caddy modules do);
// the server imports the packages and knows nothing else about them. A private hub is a
// main package that registers its actions and calls server.Main.
//
// Data flows one way: [Request.Open] gives the raw bytes (pushed attachment or one-time
// download URL), package rows turns them into fields then rows, package batch groups mapped
// records and sends them with backpressure, package vendorhttp talks to the vendor with rate
// limits and bounded retries, and the [Report] says exactly what was delivered. Package
// rowaction joins these into the execute of a row-by-row action; a file action whose
// vendor wants the length first uses [Request.OpenSized].
package sdk
