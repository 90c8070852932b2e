// Package rowcount is the README's private action: it counts the rows of a query.
package rowcount

import (
	"context"
	"fmt"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows"
)

func init() { sdk.Register(sdk.Static(Action{})) }

// Action counts the rows Looker sends.
type Action struct{}

// Definition lists the action for queries, streamed (Looker sends a download URL).
func (Action) Definition() *sdk.Definition {
	return &sdk.Definition{Name: "row_count", Label: "Count rows", Description: "Counts the rows of a query.",
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery}, Streaming: true}
}

// Execute reads the rows one at a time, in constant memory.
func (Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	body, err := req.Open(ctx) // the pushed attachment or Looker's one-time download URL
	if err != nil {
		return nil, err
	}
	defer body.Close()
	rd := rows.NewReader(body, "") // json_detail, json, csv...: sniffed
	for rd.Next() {
	}
	if err := rd.Err(); err != nil {
		return sdk.Fail(err.Error()), nil
	}
	return sdk.OK(fmt.Sprintf("Counted %d rows.", rd.Count())), nil
}
