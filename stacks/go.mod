module github.com/cantondex/platform/stacks

go 1.26.0
