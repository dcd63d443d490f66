// Package tests holds the black-box suites that drive CantonDEX from the outside: end-to-end
// user flows and the bad-input and security suite against the platform running as real
// processes, and the load generator. Unit and integration tests live next to the code they test.
package tests
