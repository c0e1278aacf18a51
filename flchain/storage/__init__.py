"""flchain.storage"""
