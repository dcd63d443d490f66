package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type mapSource map[string]string

func (m mapSource) Get(key string) (string, bool) { v, ok := m[key]; return v, ok }

func TestDefaultsAreValid(t *testing.T) {
	for _, env := range []Environment{Prod, Staging} {
		s, err := Load(string(env), "", mapSource{})
		require.NoError(t, err, "%s defaults invalid", env)
		assert.Equal(t, env, s.Environment, "%s: environment", env)
		assert.Equal(t, DefaultKubernetesVersion, s.Cluster.Version, "%s: version", env)
	}
	prod, _ := Defaults(Prod)
	staging, _ := Defaults(Staging)
	assert.Equal(t, NATPerAZ, prod.Network.NATMode, "prod NAT mode")
	assert.Equal(t, NATSingle, staging.Network.NATMode, "staging NAT mode")
}

func TestLoadOverlaysStackValues(t *testing.T) {
	s, err := Load("prod", "eu-central-1", mapSource{
		"network":    `{"cidr":"10.20.0.0/16"}`,
		"nodeGroups": `[{"name":"general","capacityType":"ON_DEMAND","instanceTypes":["m6i.large"],"minSize":3,"desiredSize":4,"maxSize":6,"diskSizeGiB":50}]`,
	})
	require.NoError(t, err)
	assert.Equal(t, "eu-central-1", s.Region, "overlay lost the region")
	assert.Equal(t, "10.20.0.0/16", s.Network.CIDR, "overlay lost values: %+v", s.Network)
	assert.Equal(t, 3, s.Network.AZCount, "overlay lost defaults: %+v", s.Network)
	if assert.Len(t, s.NodeGroups, 1, "node groups not replaced: %+v", s.NodeGroups) {
		assert.Equal(t, "general", s.NodeGroups[0].Name, "node groups not replaced: %+v", s.NodeGroups)
	}
}

func TestInvalidSettingsNameTheSetting(t *testing.T) {
	tests := []struct {
		name  string
		stack string
		src   mapSource
		want  string
	}{
		{"one AZ", "prod", mapSource{"network": `{"azCount":1}`}, "cantondex:network.azCount: 1 is outside the allowed 2 to 6"},
		{"seven AZs", "staging", mapSource{"network": `{"azCount":7}`}, "network.azCount"},
		{"not a CIDR", "prod", mapSource{"network": `{"cidr":"10.0.0.0/33"}`}, "network.cidr"},
		{"VPC too large", "prod", mapSource{"network": `{"cidr":"10.0.0.0/8"}`}, "network.cidr: /8 is outside"},
		{"subnets do not fit", "prod", mapSource{"network": `{"cidr":"10.0.0.0/20","subnetBits":22}`}, "network.subnetBits"},
		{"single NAT in prod", "prod", mapSource{"network": `{"natMode":"single"}`}, "network.natMode"},
		{"bad retention", "prod", mapSource{"network": `{"flowLogRetentionDays":2}`}, "network.flowLogRetentionDays"},
		{"kubernetes 1.27", "prod", mapSource{"cluster": `{"version":"1.27"}`}, "cantondex:cluster.version: 1.27 is below the minimum 1.28"},
		{"kubernetes garbage", "prod", mapSource{"cluster": `{"version":"latest"}`}, "cluster.version"},
		{"world-open endpoint in prod", "prod", mapSource{"cluster": `{"publicEndpoint":true,"publicAccessCidrs":["0.0.0.0/0"]}`}, "cluster.publicAccessCidrs[0]"},
		{"public endpoint without CIDRs", "staging", mapSource{"cluster": `{"publicEndpoint":true}`}, "cluster.publicAccessCidrs"},
		{"min above max", "prod", mapSource{"nodeGroups": `[{"name":"a","capacityType":"ON_DEMAND","instanceTypes":["m5.large"],"minSize":5,"desiredSize":5,"maxSize":3,"diskSizeGiB":50}]`}, "cantondex:nodeGroups[0].minSize: 5 is above maxSize 3"},
		{"desired outside", "prod", mapSource{"nodeGroups": `[{"name":"a","capacityType":"SPOT","instanceTypes":["m5.large"],"minSize":1,"desiredSize":9,"maxSize":3,"diskSizeGiB":50}]`}, "nodeGroups[0].desiredSize"},
		{"no instance types", "prod", mapSource{"nodeGroups": `[{"name":"a","capacityType":"SPOT","instanceTypes":[],"minSize":0,"desiredSize":0,"maxSize":3,"diskSizeGiB":50}]`}, "nodeGroups[0].instanceTypes"},
		{"admin not a role", "prod", mapSource{"cluster": `{"adminRoleArns":["arn:aws:iam::123456789012:user/bob"]}`}, "cluster.adminRoleArns[0]"},
		{"unknown field", "prod", mapSource{"network": `{"cidrr":"10.0.0.0/16"}`}, "cantondex:network: cannot read"},
		{"unknown environment", "dev", mapSource{}, "cantondex:environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.stack, "", tt.src)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestOldKubernetesWarns(t *testing.T) {
	s, err := Load("staging", "", mapSource{"cluster": `{"version":"1.28"}`})
	require.NoError(t, err)
	require.Len(t, s.Warnings, 1, "warnings = %q", s.Warnings)
	require.Contains(t, s.Warnings[0], "past EKS standard support", "warnings")
}

func TestSubnets(t *testing.T) {
	n := defaultNetwork(Prod)
	got, err := n.Subnets()
	require.NoError(t, err)
	want := []string{"10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20", "10.0.96.0/20", "10.0.112.0/20", "10.0.128.0/20"}
	require.Equal(t, want, got, "Subnets()")
}
