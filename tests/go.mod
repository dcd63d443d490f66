module github.com/cantondex/platform/tests

go 1.26.0
