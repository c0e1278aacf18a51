"""flchain.market"""
