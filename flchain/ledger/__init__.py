"""flchain.ledger"""
