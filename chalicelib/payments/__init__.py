"""Payments: taking the buyer's money through WeChat Pay or Alipay, and giving it back."""
