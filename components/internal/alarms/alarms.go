// Package alarms creates the CloudWatch metric alarms of the data tier's components from a
// short description, each notifying one SNS topic when it fires and when it clears.
package alarms

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Comparison operators.
const (
	Above = "GreaterThanThreshold"
	Below = "LessThanThreshold"
)

// Spec is one alarm: metric Statistic over Period seconds compared with Threshold for
// Periods consecutive periods.
type Spec struct {
	Name        string // resource name; also the alarm name's suffix
	Description string
	Namespace   string // AWS/RDS, AWS/ElastiCache, AWS/Kafka
	Metric      string
	Statistic   string // Average, Maximum, Sum
	Comparison  string
	Threshold   float64
	Period      int
	Periods     int
	Dimensions  pulumi.StringMapInput
}

// Create registers the alarms, notifying topicARN.
func Create(ctx *pulumi.Context, topicARN pulumi.StringInput, tags map[string]string, specs []Spec, opts ...pulumi.ResourceOption) ([]*cloudwatch.MetricAlarm, error) {
	out := make([]*cloudwatch.MetricAlarm, 0, len(specs))
	for _, s := range specs {
		period, periods := s.Period, s.Periods
		if period == 0 {
			period = 300
		}
		if periods == 0 {
			periods = 3
		}
		a, err := cloudwatch.NewMetricAlarm(ctx, s.Name, &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.String(s.Description),
			Namespace:          pulumi.String(s.Namespace),
			MetricName:         pulumi.String(s.Metric),
			Statistic:          pulumi.String(s.Statistic),
			ComparisonOperator: pulumi.String(s.Comparison),
			Threshold:          pulumi.Float64(s.Threshold),
			Period:             pulumi.Int(period),
			EvaluationPeriods:  pulumi.Int(periods),
			Dimensions:         s.Dimensions,
			TreatMissingData:   pulumi.String("missing"),
			AlarmActions:       pulumi.Array{topicARN},
			OkActions:          pulumi.Array{topicARN},
			Tags:               pulumi.ToStringMap(tags),
		}, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
