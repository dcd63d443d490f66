package stacks

// Data holds the data and streaming tier settings (databases, cache, streaming, alarms).
// The data-tier issue fills it in; until then it is empty and always valid.
type Data struct{}

func defaultData(env Environment) Data { return Data{} }

func (d *Data) validate(v *validator, s *Settings) {}
