package rows_test

import (
	"fmt"
	"strings"

	"github.com/actionhub/actionhub/sdk/rows"
)

func ExampleReader() {
	doc := `{"fields":{"dimensions":[{"name":"users.email","tags":["email"]},{"name":"users.name"}],
	  "measures":[{"name":"orders.count","measure":true}]},
	 "data":[{"users.email":{"value":"ada@example.com"},"users.name":{"value":"Ada \u00e9"},"orders.count":{"value":12}},
	         {"users.email":{"value":null},"users.name":{"value":"Grace","rendered":"GRACE","links":[]},"orders.count":{"value":0}}],
	 "ran_at":"2026-11-24T08:00:03+00:00"}`
	rd := rows.NewReader(strings.NewReader(doc), "json_detail_lite_stream")
	fields, err := rd.Fields()
	if err != nil {
		panic(err)
	}
	email := fields.FirstTagged("email")
	for rd.Next() {
		row := rd.Row()
		v := row.Value(email.Name)
		fmt.Printf("row %d: email=%q null=%v name=%s count=%s\n", row.Number(), v.String(), v.IsNull(),
			row.Value("users.name").AppendJSON(nil), row.Value("orders.count").Bytes())
	}
	at, _ := rd.RanAt()
	fmt.Println(rd.Err(), rd.Count(), at.Format("2006-01-02"))
	// Output:
	// row 1: email="ada@example.com" null=false name="Ada é" count=12
	// row 2: email="" null=true name="Grace" count=0
	// <nil> 2 2026-11-24
}
