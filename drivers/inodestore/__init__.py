"""The inode-store model shared by the sqlite and DynamoDB drivers: POSIX rules once, transactions per store.

Modules: `records` holds the inode record, `txn` the small transaction
interface a store implements, `rules` the structural checks every inode
store makes, and `model` the driver that runs each protocol call as one
transaction on that interface (JuiceFS's `base.go` over `tkv.go`).
"""
