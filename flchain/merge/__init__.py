"""flchain.merge"""
