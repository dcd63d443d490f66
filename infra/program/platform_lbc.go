package program

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
)

// LoadBalancerControllerPolicy is the AWS Load Balancer Controller's published IAM policy
// (kubernetes-sigs/aws-load-balancer-controller docs/install/iam_policy.json of v2.14.0, the
// pinned chart 1.14.0), statement for statement. The controller creates and tags the ALBs,
// target groups and security groups it owns (tag elbv2.k8s.aws/cluster) and may change only
// those.
func LoadBalancerControllerPolicy() identity.Document {
	all := identity.Strings("*")
	null := func(variable, value string) identity.Condition {
		return identity.Condition{Test: "Null", Variable: pulumi.String(variable), Values: identity.Strings(value)}
	}
	const request, resource = "aws:RequestTag/elbv2.k8s.aws/cluster", "aws:ResourceTag/elbv2.k8s.aws/cluster"
	lbAndTargets := identity.Strings(
		"arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
		"arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
		"arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
	)
	securityGroups := identity.Strings("arn:aws:ec2:*:*:security-group/*")
	return identity.Document{Statements: []identity.Statement{
		{Actions: []string{"iam:CreateServiceLinkedRole"}, Resources: all,
			Conditions: []identity.Condition{{Test: "StringEquals", Variable: pulumi.String("iam:AWSServiceName"), Values: identity.Strings("elasticloadbalancing.amazonaws.com")}}},
		{Actions: []string{
			"ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones", "ec2:DescribeInternetGateways",
			"ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
			"ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:GetCoipPoolUsage",
			"ec2:DescribeCoipPools", "ec2:GetSecurityGroupsForVpc", "ec2:DescribeIpamPools", "ec2:DescribeRouteTables",
			"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
			"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerCertificates",
			"elasticloadbalancing:DescribeSSLPolicies", "elasticloadbalancing:DescribeRules",
			"elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
			"elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags",
			"elasticloadbalancing:DescribeTrustStores", "elasticloadbalancing:DescribeListenerAttributes",
			"elasticloadbalancing:DescribeCapacityReservation",
		}, Resources: all},
		{Actions: []string{
			"cognito-idp:DescribeUserPoolClient", "acm:ListCertificates", "acm:DescribeCertificate",
			"iam:ListServerCertificates", "iam:GetServerCertificate",
			"waf-regional:GetWebACL", "waf-regional:GetWebACLForResource", "waf-regional:AssociateWebACL", "waf-regional:DisassociateWebACL",
			"wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
			"shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection", "shield:DeleteProtection",
		}, Resources: all},
		{Actions: []string{"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"}, Resources: all},
		{Actions: []string{"ec2:CreateSecurityGroup"}, Resources: all},
		{Actions: []string{"ec2:CreateTags"}, Resources: securityGroups, Conditions: []identity.Condition{
			{Test: "StringEquals", Variable: pulumi.String("ec2:CreateAction"), Values: identity.Strings("CreateSecurityGroup")},
			null(request, "false"),
		}},
		{Actions: []string{"ec2:CreateTags", "ec2:DeleteTags"}, Resources: securityGroups,
			Conditions: []identity.Condition{null(request, "true"), null(resource, "false")}},
		{Actions: []string{"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"}, Resources: all,
			Conditions: []identity.Condition{null(resource, "false")}},
		{Actions: []string{"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"}, Resources: all,
			Conditions: []identity.Condition{null(request, "false")}},
		{Actions: []string{"elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
			"elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule"}, Resources: all},
		{Actions: []string{"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"}, Resources: lbAndTargets,
			Conditions: []identity.Condition{null(request, "true"), null(resource, "false")}},
		{Actions: []string{"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"}, Resources: identity.Strings(
			"arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*",
			"arn:aws:elasticloadbalancing:*:*:listener/app/*/*/*",
			"arn:aws:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
			"arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*",
		)},
		{Actions: []string{
			"elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
			"elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets", "elasticloadbalancing:DeleteLoadBalancer",
			"elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
			"elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyListenerAttributes",
			"elasticloadbalancing:ModifyCapacityReservation", "elasticloadbalancing:ModifyIpPools",
		}, Resources: all, Conditions: []identity.Condition{null(resource, "false")}},
		{Actions: []string{"elasticloadbalancing:AddTags"}, Resources: lbAndTargets, Conditions: []identity.Condition{
			{Test: "StringEquals", Variable: pulumi.String("elasticloadbalancing:CreateAction"), Values: identity.Strings("CreateTargetGroup", "CreateLoadBalancer")},
			null(request, "false"),
		}},
		{Actions: []string{"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"},
			Resources: identity.Strings("arn:aws:elasticloadbalancing:*:*:targetgroup/*/*")},
		{Actions: []string{
			"elasticloadbalancing:SetWebAcl", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:AddListenerCertificates",
			"elasticloadbalancing:RemoveListenerCertificates", "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities",
		}, Resources: all},
	}}
}
