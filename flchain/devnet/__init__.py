"""flchain.devnet"""
