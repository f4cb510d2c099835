package oidcop

import (
	"context"
	"errors"
	"fmt"
)

// Sweep removes what has expired — authorization requests past their deadline, code or
// token, and signing keys past their retention — and rotates the signing key when it is due.
// serve calls it periodically on every node; each step is safe to run on several at once.
func (p *Provider) Sweep(ctx context.Context) error {
	var errs []error
	n, err := p.st.DeleteAuthRequestsBefore(ctx, p.now())
	if err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		p.log.InfoContext(ctx, "swept authorization requests", "deleted", n)
	}
	if err := p.maintainKeys(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("oidc sweep: %w", err)
	}
	return nil
}
