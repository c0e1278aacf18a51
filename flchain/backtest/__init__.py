"""flchain.backtest"""
