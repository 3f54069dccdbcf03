"""Tests of the DynamoDB driver (`aws:REGION/TABLE`) against a real moto server on 127.0.0.1."""
