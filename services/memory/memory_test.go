package memory_test

import (
	"testing"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/storetest"
)

func TestLedgerContract(t *testing.T) {
	storetest.Ledger(t, func(t *testing.T) ledger.Store { return memory.New() })
}

func TestVenueContract(t *testing.T) {
	storetest.Venue(t, func(t *testing.T) storetest.VenueStore { return memory.New() })
}
