"""flchain.node"""
