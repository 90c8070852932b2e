// Package all imports every action of this repository so that each registers itself.
// cmd/actionhub imports it; a private hub that wants the built-in actions does too.
package all

import (
	_ "github.com/actionhub/actionhub/actions/airtable"
	_ "github.com/actionhub/actionhub/actions/amazons3"
	_ "github.com/actionhub/actionhub/actions/azure"
	_ "github.com/actionhub/actionhub/actions/braze"
	_ "github.com/actionhub/actionhub/actions/debug"
	_ "github.com/actionhub/actionhub/actions/dospaces"
	_ "github.com/actionhub/actionhub/actions/dropbox"
	_ "github.com/actionhub/actionhub/actions/firebase"
	_ "github.com/actionhub/actionhub/actions/gcs"
	_ "github.com/actionhub/actionhub/actions/googledrive"
	_ "github.com/actionhub/actionhub/actions/googlesheets"
	_ "github.com/actionhub/actionhub/actions/hubspot"
	_ "github.com/actionhub/actionhub/actions/jira"
	_ "github.com/actionhub/actionhub/actions/kloudio"
	_ "github.com/actionhub/actionhub/actions/marketo"
	_ "github.com/actionhub/actionhub/actions/mparticle"
	_ "github.com/actionhub/actionhub/actions/segment"
	_ "github.com/actionhub/actionhub/actions/sendgrid"
	_ "github.com/actionhub/actionhub/actions/sftp"
	_ "github.com/actionhub/actionhub/actions/slack"
	_ "github.com/actionhub/actionhub/actions/teams"
	_ "github.com/actionhub/actionhub/actions/tray"
	_ "github.com/actionhub/actionhub/actions/twilio"
	_ "github.com/actionhub/actionhub/actions/webhookbatch"
	_ "github.com/actionhub/actionhub/actions/zapier"
)
