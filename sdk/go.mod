module github.com/paycenter/paycenter/sdk

go 1.26.8
