module github.com/cantondex/platform/infra

go 1.26.0
