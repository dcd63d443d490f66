package screening

// OFACDir is ofacDir for the external tests.
var OFACDir = ofacDir
