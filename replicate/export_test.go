package replicate

import rg "github.com/replicate/replicate-go"

// FromAPI is fromAPI for the external tests: what Get, Create and Cancel
// make of the rg.Prediction replicate-go decodes.
func FromAPI(p *rg.Prediction) Prediction { return fromAPI(p) }
