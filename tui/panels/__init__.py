"""One live panel per module: IPs, warmups, pools, alerts."""
