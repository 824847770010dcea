// Package api is the HTTP edge of LOKIZ for app clients: the gin router with
// the whole route table (server.go), the middleware every request passes
// through, the single error writer, and one file per resource with its
// request and response types. Handlers parse and validate input, make one
// business call into db (or enqueue through tasks), and shape the response.
package api
