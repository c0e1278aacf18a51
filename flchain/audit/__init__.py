"""flchain.audit"""
