package admin

import (
	"flag"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// helpdeskUsage is the part of the usage about the helpdesk role.
const helpdeskUsage = `  users grant-helpdesk USERNAME     the helpdesk role: the helpdesk console (/helpdesk) after a substantial logon
  users revoke-helpdesk USERNAME    take the helpdesk role away (acts at once, also on open sessions)
`

func usersGrantHelpdesk(e *env, fs *flag.FlagSet, args []string) error {
	return changeRole(e, fs, args, "users grant-helpdesk USERNAME", store.RoleHelpdesk, true)
}

func usersRevokeHelpdesk(e *env, fs *flag.FlagSet, args []string) error {
	return changeRole(e, fs, args, "users revoke-helpdesk USERNAME", store.RoleHelpdesk, false)
}
